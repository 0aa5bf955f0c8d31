import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

/**
 * Writes only the files of dist/ whose bytes changed, and deletes the ones a build no longer
 * makes. The desktop app embeds dist/, and cargo rebuilds it (minutes) when any file there is
 * newer than the binary: an unchanged UI must leave dist/ as it was (the test command and
 * run.sh build the UI every time).
 */
function keepUnchangedFiles(): Plugin {
  let outDir = "";
  return {
    name: "keep-unchanged-files",
    apply: "build",
    enforce: "post",
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    generateBundle(_options, bundle) {
      const made = new Set(Object.keys(bundle));
      for (const [name, item] of Object.entries(bundle)) {
        const bytes = Buffer.from(item.type === "asset" ? item.source : item.code);
        const path = join(outDir, name);
        if (existsSync(path) && readFileSync(path).equals(bytes)) delete bundle[name];
      }
      if (!existsSync(outDir)) return;
      for (const entry of readdirSync(outDir, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const path = join(entry.parentPath, entry.name);
        if (!made.has(relative(outDir, path))) rmSync(path);
      }
    },
  };
}

export default defineConfig({
  plugins: [react(), keepUnchangedFiles()],
  // Relative paths: the Tauri webview loads dist/ from disk.
  base: "./",
  // A desktop app loads its bundle from disk: one chunk is fine. dist/ is not emptied first:
  // keepUnchangedFiles removes what a build no longer makes.
  build: { outDir: "dist", emptyOutDir: false, sourcemap: false, chunkSizeWarningLimit: 1200 },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./tests/setup.ts"],
    include: ["src/**/*.test.ts", "src/**/*.test.tsx", "tests/unit/**/*.test.ts", "tests/unit/**/*.test.tsx"],
  },
});
