#!/usr/bin/env node
// Writes a projected-ServiceAccount-shaped token (RS256, signed by a throwaway key) for benchmarks and manual
// runs: the claims a healthy IRSA pod's token has (docs/mechanics.md), valid for 24 h from now.
//   node scripts/make-fixture-token.mjs OUT_FILE [NAMESPACE] [SERVICE_ACCOUNT] [AUDIENCE]
// The key is discarded, so the token passes every offline check and no online one.
import { writeFileSync } from 'node:fs';
import { SignJWT, generateKeyPair } from 'jose';

const [out, namespace = 'shop', serviceAccount = 'cart', audience = 'sts.amazonaws.com'] = process.argv.slice(2);
if (!out) {
  console.error('usage: make-fixture-token.mjs OUT_FILE [NAMESPACE] [SERVICE_ACCOUNT] [AUDIENCE]');
  process.exit(2);
}

const issuer = 'https://oidc.eks.eu-west-1.amazonaws.com/id/B71EXAMPLEB71EXAMPLEB71EXAMPLE00';
const { privateKey } = await generateKeyPair('RS256');
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({
  'kubernetes.io': {
    namespace,
    serviceaccount: { name: serviceAccount, uid: '5c8e2a5e-0000-4000-8000-000000000001' },
    pod: { name: `${serviceAccount}-7d9f8b6c5-x2x4q`, uid: '5c8e2a5e-0000-4000-8000-000000000002' },
  },
})
  .setProtectedHeader({ alg: 'RS256', kid: 'fixture' })
  .setIssuer(issuer)
  .setSubject(`system:serviceaccount:${namespace}:${serviceAccount}`)
  .setAudience([audience])
  .setIssuedAt(now - 60)
  .setNotBefore(now - 60)
  .setExpirationTime(now + 86_400 - 60)
  .sign(privateKey);
writeFileSync(out, token, { mode: 0o644 });
