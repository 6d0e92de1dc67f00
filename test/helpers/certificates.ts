/** Test certificates made with the openssl command: a CA, and server certificates it signs. EC keys: quick to make. */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface KeyPair {
  /** PEM file paths. */
  cert: string;
  key: string;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await promisify(execFile)('openssl', args);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('openssl not found: install it with apt-get install -y openssl', { cause: err });
    throw new Error(`openssl ${args[0]} failed: ${(err as { stderr?: string }).stderr ?? err}`, { cause: err });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function createCa(dir: string, name: string): Promise<KeyPair> {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    pair.key,
    '-out',
    pair.cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return pair;
}

/** A server certificate signed by `ca` for `altNames` such as ['IP:127.0.0.1', 'DNS:localhost']. */
export async function issueServerCertificate(ca: KeyPair, dir: string, name: string, altNames: string[]): Promise<KeyPair> {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const extensions = join(dir, `${name}.ext`);
  await writeFile(extensions, `subjectAltName=${altNames.join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  await openssl(['req', ...EC, '-keyout', pair.key, '-out', csr, '-subj', `/CN=${name}`]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    pair.cert,
    '-days',
    '2',
    '-extfile',
    extensions,
  ]);
  return pair;
}
