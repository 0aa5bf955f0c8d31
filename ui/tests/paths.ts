/**
 * Where the UI's test harnesses find the repository, cargo's build directory, the desktop
 * binary and the built UI: absolute paths, whatever the working directory.
 *
 * A relative `CARGO_TARGET_DIR` is taken relative to the repository root, where the scripts
 * run cargo (`scripts/env.sh` makes it absolute the same way); unset, it is cargo's default,
 * `<repo>/target`. `CONFIARO_DESKTOP_BIN` names the desktop binary directly (relative to the
 * working directory, as a path given on a command line is).
 *
 *   tsx tests/paths.ts                   prints them as JSON
 *   tsx tests/paths.ts --require-built   also fails, naming the path it tried, when the
 *                                        desktop binary or dist/ is missing
 *
 * The test command runs it from another directory with a relative `CARGO_TARGET_DIR`
 * (`scripts/check-paths.sh`), and with its own environment before the desktop test.
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root directory. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The UI package's directory (`<repo>/ui`). */
export const uiRoot = join(repoRoot, "ui");

/** The built UI that the screen walk serves and the desktop binary embeds. */
export const uiDist = join(uiRoot, "dist");

/** Cargo's build directory for this environment. */
export function targetDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.CARGO_TARGET_DIR;
  if (!dir) return join(repoRoot, "target");
  return isAbsolute(dir) ? dir : resolve(repoRoot, dir);
}

/** The release build of the desktop app (`cargo build --release` of `confiaro-desktop`). */
export function desktopBinary(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.CONFIARO_DESKTOP_BIN;
  if (given) return resolve(given);
  return join(targetDir(env), "release", "confiaro-desktop");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const paths = { repo: repoRoot, target_dir: targetDir(), desktop_binary: desktopBinary(), ui_dist: uiDist };
  console.log(JSON.stringify(paths));
  if (process.argv.includes("--require-built")) {
    const missing = [
      [paths.desktop_binary, "build it with cargo build --release -p confiaro-desktop (CARGO_TARGET_DIR as the test command has it)"],
      [join(uiDist, "index.html"), "build it with npm run build in ui/"],
    ].filter(([path]) => !existsSync(path!));
    for (const [path, how] of missing) console.error(`paths: ${path} is missing: ${how}`);
    if (missing.length > 0) process.exit(1);
  }
}
