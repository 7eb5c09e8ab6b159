// CPU time of a process group (wrangler dev's npx, wrangler and workerd: workerd runs the Worker,
// its D1 and the static-assets router), read from /proc. On a shared machine a request's wall time
// grows with everyone's load; its CPU time much less so, which makes it the steadier figure to
// compare two builds by. Linux only: null elsewhere.
import { readFileSync, readdirSync } from "node:fs";

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on every Linux port in use). */
const TICKS_PER_SECOND = 100;

/** Milliseconds of CPU (user + system) used so far by the processes of group `pgid`, or null without /proc. */
export function groupCpuMs(pgid: number): number | null {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  let ticks = 0;
  for (const pid of entries) {
    if (!/^[0-9]+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // fields after the command name (which may hold spaces): state ppid pgrp ... utime(14) stime(15)
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}
