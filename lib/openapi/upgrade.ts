import type { OpenApiDocument } from "./load.ts";
import { scalarParser } from "./scalar.ts";

/**
 * Upgrades a Swagger 2.0 or OpenAPI 3.0 document to OpenAPI 3.1 with the Scalar upgrader
 * (definitions → components, body parameters → requestBody, `nullable` → type lists,
 * boolean `exclusiveMinimum` → numbers, and the rest); a 3.1 document comes back as it is.
 * The input may be changed: pass a document the caller no longer needs.
 */
export async function upgradeSpec(document: OpenApiDocument): Promise<OpenApiDocument> {
  const { upgrade } = await scalarParser();
  return upgrade(document).specification as unknown as OpenApiDocument;
}
