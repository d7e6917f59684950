/**
 * MySQL 8's caching_sha2_password behind the proxy with TLS only on the client leg: the first login
 * (cold auth cache, full authentication) must not fail. The database here is a scripted MySQL 8
 * auth peer (test/helpers/fake-mysql8.ts): no MySQL 8 server can be installed on this machine.
 */
import { promises as fs } from 'fs';
import { startProxy } from '../helpers/proxy';
import { mysql } from '../helpers/clients';
import { startFakeMysql8 } from '../helpers/fake-mysql8';

const user = 'app';
const password = 'sha2-secret';

it.each([
  ['MySQL 8 (RSA public key on the plain leg)', false, ['rsa', 'fast']],
  ['TiDB (clear password accepted)', true, ['clear', 'clear']],
])('%s: cold and warm logins over TLS both succeed', async (_name, tidb, expected) => {
  const db = await startFakeMysql8({ user, password, tidb });
  const proxy = await startProxy({ backendPort: db.port });
  try {
    const ca = await fs.readFile(proxy.caFile);
    for (let i = 0; i < 2; i++) {
      const conn = await mysql.createConnection({
        host: '127.0.0.1',
        port: proxy.port,
        user,
        password,
        ssl: { ca },
      });
      await conn.query('DO 1');
      await conn.end();
    }
    expect(db.logins).toEqual(expected);
    await expect(
      mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password: 'wrong', ssl: { ca } }),
    ).rejects.toMatchObject({ errno: 1045 });
    expect(db.logins.at(-1)).toBe('denied');
    expect(JSON.stringify(proxy.logs())).not.toContain(password);
  } finally {
    await proxy.stop();
    await db.close();
  }
});
