// ref.mjs prints the token ids that a reference tokenizer gives each line of
// a text file, one JSON array per line, for comparison with embshrink's own
// tokenizer.json reader:
//
//	node ref.mjs --impl transformers|tokenizers --tokenizer DIR_OR_FILE --text FILE [--node-modules DIR]
//
// --impl transformers is transformers.js (@huggingface/transformers,
// AutoTokenizer, run offline on the local folder); --impl tokenizers is
// Hugging Face's Rust tokenizers through its Node binding (npm tokenizers).
// Both come from the folder that scripts/install-tokenizer-refs.sh fills
// (default ${EMBSHRINK_CACHE:-$HOME/.cache/embshrink}/tokref/node/node_modules).
//
// Each line is one sequence: the file is split on "\n" only (a "\r" before
// it stays in the line); a final "\n" ends the last line rather than
// starting an empty one. Special tokens are added as the tokenizer's
// post-processor and tokenizer_config.json say (add_special_tokens true);
// there is no padding and no truncation.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

function usage(msg) {
  process.stderr.write(`ref.mjs: ${msg}\nusage: node ref.mjs --impl transformers|tokenizers --tokenizer DIR_OR_FILE --text FILE [--node-modules DIR]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    if (!["--impl", "--tokenizer", "--text", "--node-modules"].includes(key)) usage(`unknown argument ${key}`);
    if (i + 1 >= argv.length) usage(`${key} needs a value`);
    opts[key.slice(2)] = argv[++i];
  }
  for (const k of ["impl", "tokenizer", "text"]) if (!opts[k]) usage(`--${k} is required`);
  if (!["transformers", "tokenizers"].includes(opts.impl)) usage(`--impl ${opts.impl}: want transformers or tokenizers`);
  return opts;
}

function defaultNodeModules() {
  const cache = process.env.EMBSHRINK_CACHE || path.join(os.homedir(), ".cache", "embshrink");
  return path.join(cache, "tokref", "node", "node_modules");
}

// load imports a package installed in nodeModules (ESM ignores NODE_PATH,
// so the entry file is resolved from there and imported by URL).
async function load(nodeModules, name) {
  const require = createRequire(path.join(nodeModules, "..", "package.json"));
  let entry;
  try {
    entry = require.resolve(name);
  } catch (err) {
    process.stderr.write(`ref.mjs: ${name} is not installed under ${nodeModules}; run scripts/install-tokenizer-refs.sh\n`);
    process.exit(1);
  }
  return import(pathToFileURL(entry).href);
}

// readLines splits on "\n" only, keeping "\r", and drops the empty string
// after a final "\n".
function readLines(file) {
  const text = fs.readFileSync(file, "utf8");
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

// tokenizerDir returns the folder holding tokenizer.json (and
// tokenizer_config.json where shipped). A file under another name is linked
// as tokenizer.json into a temporary folder, since transformers.js loads a
// model folder by its file names.
function tokenizerDir(p) {
  const abs = path.resolve(p);
  if (fs.statSync(abs).isDirectory()) return abs;
  if (path.basename(abs) === "tokenizer.json") return path.dirname(abs);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tokref-"));
  fs.symlinkSync(abs, path.join(dir, "tokenizer.json"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function transformersEncoder(nodeModules, dir) {
  const { AutoTokenizer, env } = await load(nodeModules, "@huggingface/transformers");
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = "/";
  env.useBrowserCache = false;
  env.useFSCache = false;
  // transformers.js wants a tokenizer_config.json; a file shipped without
  // one gets an empty config through a temporary folder.
  if (!fs.existsSync(path.join(dir, "tokenizer_config.json"))) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tokref-"));
    fs.symlinkSync(fs.realpathSync(path.join(dir, "tokenizer.json")), path.join(tmp, "tokenizer.json"));
    fs.writeFileSync(path.join(tmp, "tokenizer_config.json"), "{}\n");
    process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
    dir = tmp;
  }
  const tok = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  return async (lines) => lines.map((line) => tok.encode(line, { add_special_tokens: true }));
}

async function tokenizersEncoder(nodeModules, dir) {
  const { Tokenizer } = await load(nodeModules, "tokenizers");
  const tok = Tokenizer.fromFile(path.join(dir, "tokenizer.json"));
  tok.disablePadding();
  tok.disableTruncation();
  return async (lines) => {
    const out = [];
    const batch = 256;
    for (let i = 0; i < lines.length; i += batch) {
      const encs = await tok.encodeBatch(lines.slice(i, i + batch), { addSpecialTokens: true });
      for (const e of encs) out.push(e.getIds());
    }
    return out;
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const nodeModules = path.resolve(opts["node-modules"] || defaultNodeModules());
  const dir = tokenizerDir(opts.tokenizer);
  const lines = readLines(opts.text);
  const encode = opts.impl === "transformers" ? await transformersEncoder(nodeModules, dir) : await tokenizersEncoder(nodeModules, dir);
  const ids = await encode(lines);
  const out = 1; // stdout, written synchronously so nothing is lost at exit
  let buf = "";
  for (const row of ids) {
    buf += JSON.stringify(Array.from(row)) + "\n";
    if (buf.length > 1 << 20) {
      fs.writeSync(out, buf);
      buf = "";
    }
  }
  fs.writeSync(out, buf);
}

main().catch((err) => {
  process.stderr.write(`ref.mjs: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
