// Builds the browser UI into web/dist (index.html + assets/), served by runtime/api/web.py.
// Run from the repository root: `npm run build:web`.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  publicDir: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: true,
    // The page runs under `script-src 'self'`: no inline scripts, no polyfill injected inline.
    modulePreload: { polyfill: false },
    cssCodeSplit: true,
    chunkSizeWarningLimit: 200,
  },
  server: {
    // `npx vite web` for UI work against a running runtime (`make dev` on :8000).
    proxy: {
      "/api": "http://127.0.0.1:8000",
      "/health": "http://127.0.0.1:8000",
    },
  },
});
