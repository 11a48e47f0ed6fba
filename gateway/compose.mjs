// Composes Whistle's three subgraphs into supergraph.graphql with @theguild/federation-composition.
//
//   node compose.mjs [--check]
//
// Reads subgraphs/<name>.graphql (written by `whistle schema --subgraph <name>`, see `make
// supergraph`). Each subgraph's URL comes from <NAME>_URL (e.g. DIRECTORY_URL), by default the
// service of docker-compose.yml's federated profile; the gateway can override them at run time
// (gateway.config.mjs). Prints every composition error and exits 1 when there is one; --check
// writes nothing and exits 1 when supergraph.graphql is not what composition gives now.
// The Guild's composition reports no hints (see its README): the test suite checks what
// hints would (the API schema equals the monolith's).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'graphql';
import { composeServices, compositionHasErrors } from '@theguild/federation-composition';

const here = dirname(fileURLToPath(import.meta.url));
export const SUBGRAPHS = ['directory', 'fixtures', 'assignments'];

export function compose(subgraphs = SUBGRAPHS, dir = join(here, 'subgraphs')) {
  const services = subgraphs.map((name) => ({
    name,
    url: process.env[`${name.toUpperCase()}_URL`] || `http://${name}:8000/graphql`,
    typeDefs: parse(readFileSync(join(dir, `${name}.graphql`), 'utf8')),
  }));
  return composeServices(services);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const result = compose();
  if (compositionHasErrors(result)) {
    for (const error of result.errors) {
      console.error(`composition error [${error.extensions?.code ?? 'UNKNOWN'}]: ${error.message}`);
    }
    process.exit(1);
  }
  const target = join(here, 'supergraph.graphql');
  const text = result.supergraphSdl.trimEnd() + '\n';
  if (check) {
    const current = readFileSync(target, 'utf8');
    if (current !== text) {
      console.error('gateway/supergraph.graphql is out of date: run `make supergraph`');
      process.exit(1);
    }
    console.log('gateway/supergraph.graphql is up to date');
  } else {
    writeFileSync(target, text);
    console.log(`wrote ${target}`);
  }
}
