// Summarizes bench/runtimes.sh's JSON lines: per runtime and bench, the median and the min-max of
// each number. Usage: node runtimes_summary.mjs results.jsonl
import { readFileSync } from "node:fs";
import process from "node:process";

const rows = readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const groups = new Map(); // Map.groupBy is Node 21+
for (const r of rows) {
  const key = `${r.bench} ${r.runtime}`;
  groups.set(key, [...(groups.get(key) ?? []), r]);
}
for (const [key, rs] of [...groups].sort()) {
  const parts = Object.keys(rs[0]).filter((k) => typeof rs[0][k] === "number").map((k) => {
    const v = rs.map((r) => r[k]).sort((a, b) => a - b);
    return `${k} ${v[Math.floor(v.length / 2)]} (${v[0]}-${v[v.length - 1]})`;
  });
  console.log(`${key} (${rs.length} runs): ${parts.join(", ")}`);
}
