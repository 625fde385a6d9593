import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const OPENSSL = ['/usr/bin/openssl', '/bin/openssl'].find((p) => existsSync(p));

/** Why no certificate can be made here, or undefined. */
export const TLS_UNAVAILABLE = OPENSSL ? undefined : 'openssl is missing (apt-get install openssl)';

/** A fresh self-signed certificate for 127.0.0.1 (the API server of a test), made by openssl: key and cert PEM. */
export function selfSignedLoopbackCert(): { key: string; cert: string } {
  if (!OPENSSL) throw new Error(TLS_UNAVAILABLE);
  const dir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-tls-'));
  try {
    const result = spawnSync(
      OPENSSL,
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        `${dir}/key.pem`,
        '-out',
        `${dir}/cert.pem`,
      ],
      { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } },
    );
    if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
    return { key: readFileSync(`${dir}/key.pem`, 'utf8'), cert: readFileSync(`${dir}/cert.pem`, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
