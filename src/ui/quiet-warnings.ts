// grpc-js (under etcd3) sets the TLS server name to an IP address for every etcd connection, which
// Node reports as deprecated (DEP0123). It is harmless and would only alarm the operator.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const code = typeof rest[0] === "object" && rest[0] ? (rest[0] as { code?: string }).code : rest[1];
  if (code === "DEP0123") return;
  (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

export {};
