// Hive Gateway in front of Whistle's subgraphs: `npx hive-gateway supergraph supergraph.graphql`
// (see `make gateway`). Environment:
//   DIRECTORY_URL, FIXTURES_URL, ASSIGNMENTS_URL  subgraph endpoints (default: those composed
//                                                 into supergraph.graphql, the compose services)
//   EXTRA_SUBGRAPHS=ratings,...                   further subgraphs (another team's) whose
//                                                 <NAME>_URL overrides its composed URL too
//   GATEWAY_MASK_ERRORS=0                         show the gateway's own errors unmasked
import { defineConfig } from '@graphql-hive/gateway';

const SUBGRAPHS = [
  'directory',
  'fixtures',
  'assignments',
  ...(process.env.EXTRA_SUBGRAPHS || '').split(',').map((s) => s.trim()).filter(Boolean),
];

// A subgraph's URL from the environment overrides the one composed into the supergraph.
const locations = Object.fromEntries(
  SUBGRAPHS.filter((name) => process.env[`${name.toUpperCase()}_URL`]).map((name) => [
    name,
    { location: process.env[`${name.toUpperCase()}_URL`] },
  ]),
);

// The caller's credentials travel to every subgraph, which authorizes each field itself
// (WHISTLE_AUTH=jwt works behind the gateway as without it).
const FORWARDED = ['authorization', 'cookie', 'origin', 'x-request-id'];

export const gatewayConfig = defineConfig({
  supergraph: './supergraph.graphql',
  transportEntries: {
    ...locations,
    '*.http': {
      options: {
        // Subscriptions go to the subgraph over graphql-transport-ws, with the caller's token
        // in connection_init (whistle reads `authorization` there).
        subscriptions: {
          kind: 'ws',
          options: { connectionParams: { authorization: '{context.headers.authorization}' } },
        },
      },
    },
  },
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) =>
      Object.fromEntries(FORWARDED.map((name) => [name, request.headers.get(name)]).filter(([, v]) => v)),
  },
  // Subgraph errors keep their extensions (code, reason) either way; this is about errors the
  // gateway raises itself (a subgraph down).
  maskedErrors: process.env.GATEWAY_MASK_ERRORS !== '0',
  // No usage reporting, no telemetry: nothing leaves the machine.
  // (reporting stays unset: no Hive or GraphOS usage reporting)
  graphiql: true,
  logging: process.env.GATEWAY_LOG_LEVEL || 'info',
});
