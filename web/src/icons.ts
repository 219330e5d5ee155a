// Inline SVG icons (no icon font, no emoji font needed); decorative, hidden from screen readers.
const PATHS: Record<string, string> = {
  menu: "M3 6h18M3 12h18M3 18h18",
  pencil: "M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4",
  archive: "M3 4h18v4H3zM5 8v12h14V8M10 12h4",
  unarchive: "M9 14l-4-4 4-4M5 10h10a5 5 0 0 1 0 10h-3",
  folder: "M3 6h6l2 2h10v11H3z",
  download: "M12 4v11M7 10l5 5 5-5M5 20h14",
  close: "M6 6l12 12M18 6L6 18",
  check: "M5 12.5l4.5 4.5L19 7",
  mic: "M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3zM5 11a7 7 0 0 0 14 0M12 18v3",
  "mic-off": "M12 3a3 3 0 0 1 3 3v4M9 9v3a3 3 0 0 0 5 2.2M5 11a7 7 0 0 0 11.5 5.4M19 11a7 7 0 0 1-.6 2.8M12 18v3M3 3l18 18",
  "phone-off":
    "M4 14.5c4.8-4 11.2-4 16 0l-2 2.5-3-1.2v-2.3a10 10 0 0 0-6 0v2.3l-3 1.2z",
  keyboard: "M3 7h18v10H3zM7 10h1M11 10h1M15 10h1M7 14h10",
  file: "M6 3h8l4 4v14H6zM14 3v4h4",
  plus: "M12 5v14M5 12h14",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
  gear: "M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1L7 17M17 7l2.1-2.1",
  send: "M12 19V5M6 11l6-6 6 6",
  stop: "M7 7h10v10H7z",
  paperclip: "M20 11.5l-8.2 8.2a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8",
};

const NS = "http://www.w3.org/2000/svg";

export function icon(name: keyof typeof PATHS | string, size = 20): SVGSVGElement {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.classList.add("icon");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", PATHS[name] ?? PATHS.file!);
  svg.append(path);
  return svg;
}
