// @vitest-environment node
// The TypeScript wire types are generated from the OpenAPI document the server serves;
// this fails while the committed api.gen.ts is not what `npm run gen:api` writes from the
// current httpapi/openapi.json, so that the UI's types cannot drift from the contract.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import openapiTS from 'openapi-typescript';
import { describe, expect, it } from 'vitest';

describe('api.gen.ts', () => {
  it('is what npm run gen:api generates from httpapi/openapi.json', async () => {
    const doc = new URL('../../httpapi/openapi.json', import.meta.url);
    const generated = await openapiTS(doc);
    const committed = readFileSync(fileURLToPath(new URL('./api.gen.ts', import.meta.url)), 'utf8');
    expect(committed, 'api.gen.ts is stale: run `cd web && npm run gen:api` and commit it').toBe(generated);
  });
});
