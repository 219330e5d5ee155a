// Where a search's words occur in a text, by the server's rule (core/store/codec.py): every word of the
// query starts a word of the text, ignoring case and accents. No DOM: the search list and the chat mark
// the ranges.

/** Lower case without accents, one piece per character of `text` (so positions map back). */
function foldPieces(text: string): string[] {
  return Array.from(text, (ch) => ch.toLowerCase().normalize("NFKD").replace(/\p{M}/gu, ""));
}

const WORD = /[\p{L}\p{N}]+/gu;

/** The query's words, folded, without repeats (at most 8, as the server takes). */
export function searchTerms(query: string): string[] {
  const folded = foldPieces(query).join("");
  const terms: string[] = [];
  for (const match of folded.matchAll(WORD)) if (!terms.includes(match[0])) terms.push(match[0]);
  return terms.slice(0, 8);
}

/** [start, end) ranges (UTF-16 indexes of `text`) of each word start that matches a term. */
export function matchRanges(text: string, terms: readonly string[]): [number, number][] {
  if (!terms.length) return [];
  const chars = Array.from(text);
  const pieces = foldPieces(text);
  // Map each folded position to the index (in UTF-16 units) of the original character it came from.
  const origin: number[] = [];
  let folded = "";
  let at = 0;
  pieces.forEach((piece, i) => {
    for (let k = 0; k < piece.length; k += 1) origin.push(at);
    folded += piece;
    at += chars[i]!.length;
  });
  origin.push(at);
  const ranges: [number, number][] = [];
  for (const match of folded.matchAll(WORD)) {
    const word = match[0];
    const start = match.index ?? 0;
    const term = terms.filter((t) => word.startsWith(t)).sort((a, b) => b.length - a.length)[0];
    if (!term) continue;
    const endFolded = start + term.length;
    // The end: the first original character not covered by the term.
    let end = origin[endFolded]!;
    if (endFolded < folded.length && origin[endFolded - 1] === origin[endFolded]) end = origin[endFolded]! + 1;
    ranges.push([origin[start]!, Math.max(end, origin[start]! + 1)]);
  }
  return ranges;
}
