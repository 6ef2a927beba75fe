/**
 * `tether mcp schema`: a Cedar schema fragment for an MCP server's tools (README "MCP gateway"),
 * read through Tether's gateway with an access token the operator supplies, or straight from the
 * upstream. Through the gateway, tools/list is filtered to what the token's identity may use, so the
 * fragment covers those tools; --upstream sees them all.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { cedarSchemaFragment } from '../mcp/schema-fragment.js';
import { listMcpTools } from './mcp-client.js';

interface SchemaOpts {
  server: string;
  url?: string;
  upstream?: string;
  tokenFile?: string;
}

/** The access token: a file or TETHER_MCP_TOKEN, never a flag value (argv is visible to every user). */
function tokenOf(o: SchemaOpts): string {
  const raw = o.tokenFile !== undefined ? readFileSync(o.tokenFile, 'utf8') : (process.env.TETHER_MCP_TOKEN ?? '');
  const token = raw.trim();
  if (!token) throw new Error(`no access token: set TETHER_MCP_TOKEN or give --token-file (a Tether access token whose audience is the server's /mcp/${o.server}), or read the server directly with --upstream`);
  return token;
}

export function registerMcp(program: Command) {
  const mcp = program.command('mcp').description('MCP gateway tools');
  mcp
    .command('schema')
    .description('print a Cedar schema fragment (McpServer, Tool, Action "tools/call" with the tools\' arguments) for an MCP server\'s tools')
    .requiredOption('--server <name>', 'the MCP server, as named in mcp_servers (tether.yaml)')
    .option('--url <url>', 'broker base URL (TETHER_URL, default http://127.0.0.1:8080): lists tools through <url>/mcp/<name>')
    .option('--token-file <file>', 'file holding the access token for the gateway (else TETHER_MCP_TOKEN)')
    .option('--upstream <url>', 'read the Streamable HTTP MCP server at this URL directly instead (no token is sent)')
    .addHelpText('after', '\nThrough the gateway, only the tools the token\'s identity may use are listed.\nExample:\n  TETHER_MCP_TOKEN=$(cat agent.token) tether mcp schema --server files --url https://tether.example > files.cedarschema.part')
    .action(async (o: SchemaOpts) => {
      if (o.upstream !== undefined && o.url !== undefined) throw new Error('give --url (through Tether) or --upstream (direct), not both');
      const listed =
        o.upstream !== undefined
          ? await listMcpTools(o.upstream)
          : await listMcpTools(`${(o.url ?? process.env.TETHER_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')}/mcp/${encodeURIComponent(o.server)}`, tokenOf(o));
      process.stdout.write(cedarSchemaFragment({ server: o.server, tools: listed.tools }));
    });
}
