// The UI's unit tests (`npm run test:web`, run by `make test`): web/test/*.test.ts in Node, no browser.
// The modules they test (conversation.ts, stream.ts) touch no DOM; the browser tests are in tests/web.
// vitest 4: the newest line that supports Node 20 (vitest 5 needs Node 22.12+).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
