/*
 * The simulated cluster's serving certificate: self-signed, for 127.0.0.1 and localhost only, valid 2025-2125.
 * A fixed pair rather than one minted per run, because neither node:crypto nor Bun can create an X.509
 * certificate, and the demo must serve TLS from the single binary with no openssl on the machine
 * (client-node refuses a plain-http API server; the launchers are tested over TLS like a real cluster).
 * Go's net/http/httptest does the same (src/net/http/internal/testcert/testcert.go in golang/go).
 * The key protects nothing: it is public, it is only ever served on loopback, and every kubeconfig the
 * simulator writes trusts exactly this certificate (certificate-authority-data), never the system roots.
 *
 * Made with OpenSSL 3.0 (P-256; `openssl ca -selfsign -startdate 20250101000000Z -enddate 21250101000000Z`,
 * subjectAltName IP:127.0.0.1,DNS:localhost, basicConstraints critical CA:TRUE, extendedKeyUsage serverAuth).
 */
export const SIM_TLS = {
  key: `
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQUVAxc7gyw8JnJqW
bmz0kqI9z4p8men7O0GkLsI/9Z+hRANCAASQMCHY8nL2eKnOaV68wEMsk3+Y0iIC
IhYd3HH//6iOFplKuDIGUDJyxF03I7CeZenqQPw0TZHlpV7GMkRgXErD
-----END PRIVATE KEY-----
`.trimStart(),
  cert: `
-----BEGIN CERTIFICATE-----
MIIBmDCCAT6gAwIBAgIBATAKBggqhkjOPQQDAjAaMRgwFgYDVQQDDA9pcnNhLWRv
Y3Rvci1zaW0wIBcNMjUwMTAxMDAwMDAwWhgPMjEyNTAxMDEwMDAwMDBaMBoxGDAW
BgNVBAMMD2lyc2EtZG9jdG9yLXNpbTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IA
BJAwIdjycvZ4qc5pXrzAQyyTf5jSIgIiFh3ccf//qI4WmUq4MgZQMnLEXTcjsJ5l
6epA/DRNkeWlXsYyRGBcSsOjczBxMBoGA1UdEQQTMBGHBH8AAAGCCWxvY2FsaG9z
dDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIChDATBgNVHSUEDDAKBggr
BgEFBQcDATAdBgNVHQ4EFgQU1tShiwRRFbAU55+OueRnMW9QR6AwCgYIKoZIzj0E
AwIDSAAwRQIhAJJ8cd3SK2jdAUKnWGVFWSVnp+LwOnV3gKUYc856eEuHAiB6fQQ2
Alz33OCZhIIP5F3O9qA90WOAyni5Ll+GtdiwLw==
-----END CERTIFICATE-----
`.trimStart(),
} as const;
