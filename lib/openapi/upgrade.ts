import type { OpenApiDocument } from "./load.ts";
import { scalarParser } from "./scalar.ts";

/**
 * Upgrades a Swagger 2.0 or OpenAPI 3.0 document to OpenAPI 3.1 with the Scalar upgrader
 * (definitions → components, body parameters → requestBody, `nullable` → type lists,
 * boolean `exclusiveMinimum` → numbers, and the rest); a 3.1 document comes back as it is.
 * The input may be changed: pass a document the caller no longer needs. What had to be
 * completed on the way is said in `warnings`.
 */
export async function upgradeSpec(
  document: OpenApiDocument,
  warnings: string[] = [],
): Promise<OpenApiDocument> {
  const { upgrade } = await scalarParser();
  const swagger = typeof document.swagger === "string";
  const upgraded = upgrade(document).specification as unknown as OpenApiDocument;
  if (swagger) completeOAuthScopes(upgraded, warnings);
  return upgraded;
}

/**
 * Swagger 2.0 requires `scopes` on an OAuth2 definition, but its JSON schema does not check it, so
 * real specs omit it (Dropbox's does) and the upgrade carries the gap into OpenAPI 3.1, whose schema
 * does check it: the merged document would be invalid. No scopes listed means none.
 */
function completeOAuthScopes(document: OpenApiDocument, warnings: string[]): void {
  const schemes = (document.components as { securitySchemes?: Record<string, unknown> } | undefined)
    ?.securitySchemes;
  for (const [name, scheme] of Object.entries(schemes ?? {})) {
    const flows = (scheme as { type?: unknown; flows?: unknown } | null)?.flows;
    if ((scheme as { type?: unknown }).type !== "oauth2" || !flows || typeof flows !== "object") continue;
    for (const flow of Object.values(flows as Record<string, Record<string, unknown>>)) {
      if (!flow || typeof flow !== "object" || (flow.scopes && typeof flow.scopes === "object")) continue;
      flow.scopes = {};
      warnings.push(
        `securityDefinitions.${name} lists no "scopes", which Swagger 2.0 requires (an empty map when there are none): taken as none`,
      );
    }
  }
}
