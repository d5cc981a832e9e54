// A process and its descendants, read from /proc: for the benches that count a gateway's
// (or a browser's) whole tree, helpers included.
import fs from 'node:fs';

/** VmRSS of pid and all its descendants: {kib, pids}. */
export function treeRssKiB(pid) {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  let total = 0;
  const todo = [pid];
  const pids = [];
  while (todo.length) {
    const p = todo.pop();
    pids.push(p);
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]);
    } catch { /* gone */ }
    todo.push(...(children.get(p) || []));
  }
  return { kib: total, pids };
}
