// The UI's unit tests (`npm run test:web`, run by `make test`): web/test/*.test.ts in Node, no browser.
// The modules they test (conversation.ts, stream.ts) touch no DOM; the browser tests are in tests/web.
import { defineConfig } from "vitest/config";

// vitest 5 wants Node 22.12+, and its failure report calls Map.groupBy (Node 21+). On an older Node a
// failing test would end in "Map.groupBy is not a function" instead of its diff: supply it here.
const maps = Map as unknown as { groupBy?: <K, V>(items: Iterable<V>, key: (item: V, index: number) => K) => Map<K, V[]> };
if (typeof maps.groupBy !== "function") {
  maps.groupBy = <K, V>(items: Iterable<V>, key: (item: V, index: number) => K): Map<K, V[]> => {
    const groups = new Map<K, V[]>();
    let index = 0;
    for (const item of items) {
      const k = key(item, index++);
      const group = groups.get(k);
      if (group) group.push(item);
      else groups.set(k, [item]);
    }
    return groups;
  };
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
