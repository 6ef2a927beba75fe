/**
 * A credential the gateway refused before policy (401): what detection needs to see replays. A
 * domain type, so detection depends on it without depending on the ext-authz HTTP handler.
 */
export interface CredentialRefusal {
  at: Date;
  route: string;
  reason: string;
  identity?: string;
  jti?: string;
  grant?: string;
  jkt?: string;
  presentedJkt?: string;
  sourceIp: string;
  method: string;
  path: string;
}
