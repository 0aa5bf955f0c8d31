/**
 * Where the UI's test harnesses find the repository, cargo's build directory, the desktop
 * binary and the built UI: absolute paths, whatever the working directory.
 *
 * A relative `CARGO_TARGET_DIR` is taken relative to the repository root, where the scripts
 * run cargo (`scripts/env.sh` makes it absolute the same way); unset, it is cargo's default,
 * `<repo>/target`. `CONFIARO_DESKTOP_BIN` names the desktop binary directly (relative to the
 * working directory, as a path given on a command line is).
 *
 *   tsx tests/paths.ts   prints them as JSON
 *
 * The test command runs it from another directory with `CARGO_TARGET_DIR` unset, relative
 * and absolute (`scripts/check-paths.sh`); the desktop test fails naming the path it tried
 * when the binary is missing.
 */
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
}
