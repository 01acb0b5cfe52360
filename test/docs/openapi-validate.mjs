// Validates and dereferences an OpenAPI document with swagger-parser, and prints it as JSON. A process of
// its own: swagger-parser 13 requires an ES-module-only dependency (json-schema-ref-parser), which Node 20
// loads but jest's module system does not, so the tests run it here (test/docs/api-documents.ts).
import SwaggerParser from '@apidevtools/swagger-parser';

const [file] = process.argv.slice(2);
try {
  const api = await SwaggerParser.validate(file);
  process.stdout.write(JSON.stringify({ ok: true, api }));
} catch (error) {
  process.stdout.write(
    JSON.stringify({ ok: false, message: error instanceof Error ? error.message : String(error) }),
  );
}
