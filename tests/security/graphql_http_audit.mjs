// Runs the graphql-http server audit (the GraphQL-over-HTTP specification's conformance
// checks, npm package graphql-http) against a live server and prints one JSON line per
// audit: {"id", "name", "status": "ok" | "notice" | "warn" | "error", "reason"}.
// Usage: node graphql_http_audit.mjs http://127.0.0.1:8000/graphql
import { auditServer } from "graphql-http";

const url = process.argv[2];
const results = await auditServer({ url });
for (const result of results) {
  const reason = result.status === "ok" ? null : result.reason;
  console.log(JSON.stringify({ id: result.id, name: result.name, status: result.status, reason }));
}
