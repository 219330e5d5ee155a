// Builds the browser UI into web/dist (index.html + assets/), served by runtime/api/web.py.
// Run from the repository root: `npm run build:web`. `npm run build:web-test` (mode voice-double) builds
// the same UI into web/dist-test with the LiveKit adapter replaced by the browser tests' double.
import { defineConfig, type Plugin } from "vite";

const ADAPTER = "./livekit";
const DOUBLE = new URL("./test-doubles/livekit.ts", import.meta.url).pathname;

function voiceDouble(): Plugin {
  return {
    name: "blu-voice-double",
    enforce: "pre",
    resolveId(source, importer) {
      return source === ADAPTER && importer?.endsWith("/src/voice/mode.ts") ? DOUBLE : null;
    },
  };
}

export default defineConfig(({ mode }) => ({
  base: "/",
  // web/public: the service worker, the web app manifest and its icons, copied as they are to the root.
  publicDir: "public",
  plugins: mode === "voice-double" ? [voiceDouble()] : [],
  build: {
    outDir: mode === "voice-double" ? "dist-test" : "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: true,
    // The page runs under `script-src 'self'`: no inline scripts, no polyfill injected inline.
    modulePreload: { polyfill: false },
    cssCodeSplit: true,
    // livekit-client (about 540 kB) is the one large chunk; it loads only in voice mode, and
    // tests/web/test_performance.py bounds what the first load fetches.
    chunkSizeWarningLimit: 560,
  },
  server: {
    // `npx vite web` for UI work against a running runtime (`make dev` on :8000).
    proxy: {
      "/api": "http://127.0.0.1:8000",
      "/health": "http://127.0.0.1:8000",
    },
  },
}));
