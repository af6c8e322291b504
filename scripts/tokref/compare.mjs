// compare.mjs prints, for each tokenizer and text that expect.sh wrote, how
// many lines transformers.js and the Rust tokenizers encode to different
// ids, with the first few such lines:
//
//	node compare.mjs TOKREF_DIR NAME...
import fs from "node:fs";
import path from "node:path";

const [dir, ...names] = process.argv.slice(2);
if (!dir || names.length === 0) {
  process.stderr.write("usage: node compare.mjs TOKREF_DIR NAME...\n");
  process.exit(2);
}

function readLines(file) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

const family = new Map();
for (const line of readLines(path.join(dir, "files.tsv"))) {
  const [name, fam] = line.split("\t");
  family.set(name, fam);
}

console.log("text\tname\tfamily\tlines\tdiffering\texamples (line: transformers | tokenizers)");
for (const text of ["multilingual", "mixed"]) {
  const source = readLines(path.join(dir, "text", `${text}.txt`));
  for (const name of names) {
    const base = path.join(dir, "expected", text, name);
    const files = ["transformers", "tokenizers"].map((impl) => `${base}.${impl}.jsonl`);
    const missing = files.filter((f) => !fs.existsSync(f));
    if (missing.length > 0) {
      console.log(`${text}\t${name}\t${family.get(name)}\t-\t-\tmissing ${missing.map((f) => path.basename(f)).join(", ")}`);
      continue;
    }
    const [a, b] = files.map(readLines);
    if (a.length !== source.length || b.length !== source.length) {
      console.log(`${text}\t${name}\t${family.get(name)}\t${source.length}\t-\tline counts ${a.length} and ${b.length}`);
      continue;
    }
    const diff = [];
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff.push(i);
    const ex = diff.slice(0, 3).map((i) => `${i + 1} ${JSON.stringify(source[i].slice(0, 40))}: ${a[i].slice(0, 60)} | ${b[i].slice(0, 60)}`);
    console.log(`${text}\t${name}\t${family.get(name)}\t${a.length}\t${diff.length}\t${ex.join(" ;; ")}`);
  }
}
