// Composes subgraph SDL files into a supergraph with @theguild/federation-composition.
//
//   node compose.mjs                       subgraphs/{directory,fixtures,assignments}.graphql -> supergraph.graphql
//   node compose.mjs --check               exit 1 when supergraph.graphql is not what composition gives now
//   node compose.mjs --public [FILES...]   print the API schema (what gateway clients see) instead
//   node compose.mjs --out F [FILES...]    write the supergraph of FILES (name = file name) to F
//
// The SDL files come from `whistle schema --subgraph NAME` (see `make supergraph`). A subgraph's
// URL is $NAME_URL (e.g. DIRECTORY_URL), by default the service of docker-compose.yml's
// federated profile; the gateway overrides them at run time (gateway.config.mjs). Every
// composition error is printed and exits 1. The Guild's composition reports no hints (see its
// README); the tests check what matters instead: the API schema equals the monolith's.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'graphql';
import { composeServices, compositionHasErrors } from '@theguild/federation-composition';

const here = dirname(fileURLToPath(import.meta.url));
const SUBGRAPHS = ['directory', 'fixtures', 'assignments'];

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, name === '--out' ? 2 : 1);
  return value ?? true;
};
const check = flag('--check');
const printPublic = flag('--public');
const out = flag('--out') || join(here, 'supergraph.graphql');
const files = args.length ? args : SUBGRAPHS.map((name) => join(here, 'subgraphs', `${name}.graphql`));

const result = composeServices(
  files.map((file) => {
    const name = basename(file, '.graphql');
    return {
      name,
      url: process.env[`${name.toUpperCase()}_URL`] || `http://${name}:8000/graphql`,
      typeDefs: parse(readFileSync(file, 'utf8')),
    };
  }),
);
if (compositionHasErrors(result)) {
  for (const error of result.errors) {
    console.error(`composition error [${error.extensions?.code ?? 'UNKNOWN'}]: ${error.message}`);
  }
  process.exit(1);
}
const supergraph = result.supergraphSdl.trimEnd() + '\n';
if (printPublic) {
  process.stdout.write(result.publicSdl);
} else if (check) {
  if (readFileSync(out, 'utf8') !== supergraph) {
    console.error(`${out} is out of date: run \`make supergraph\``);
    process.exit(1);
  }
  console.log(`${out} is up to date`);
} else {
  writeFileSync(out, supergraph);
  console.log(`wrote ${out}`);
}
