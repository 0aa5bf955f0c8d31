/**
 * A temporary directory that the next test run cleans up if this one is killed: the same
 * convention as the Rust test kit's `leftovers` module (crates/testkit/src/leftovers.rs).
 * The directory is `$TMPDIR/confiaro-test-<what>-XXXXXX` and holds a `confiaro-test-owner`
 * file with this process's pid and start time; once that process is gone, the next run stops
 * every process whose command line names the directory (the app, its monerod and wallet
 * RPCs) and removes it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The start time of this process in clock ticks since boot (field 22 of /proc/self/stat). */
function startTicks(): string {
  const stat = readFileSync("/proc/self/stat", "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
}

/** A new `confiaro-test-<what>-XXXXXX` directory owned by this process. */
export function testDir(what: string): string {
  const dir = mkdtempSync(join(tmpdir(), `confiaro-test-${what}-`));
  writeFileSync(join(dir, "confiaro-test-owner"), `${process.pid} ${startTicks()}\n`);
  return dir;
}
