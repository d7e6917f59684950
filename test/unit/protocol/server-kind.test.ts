import { Capability } from '../../../src/protocol/capabilities';
import { parseGreeting } from '../../../src/protocol/greeting';
import { serverKind } from '../../../src/protocol/server-kind';
import { loadFixture } from '../../helpers/fixtures';

const MYSQL_CAPS = Capability.LONG_PASSWORD | Capability.PROTOCOL_41 | Capability.PLUGIN_AUTH;

describe('serverKind', () => {
  it('reads MariaDB from a captured MariaDB greeting', () => {
    const packet = loadFixture('mariadb-greeting').packets[0];
    expect(serverKind(parseGreeting(packet.subarray(4)))).toBe('mariadb');
  });

  it.each([
    ['8.0.11-TiDB-v7.5.0', 'tidb', MYSQL_CAPS],
    ['5.7.25-TiDB-v6.5.0', 'tidb', MYSQL_CAPS],
    ['8.0.36', 'mysql', MYSQL_CAPS],
    ['8.4.0-commercial', 'mysql', MYSQL_CAPS],
    ['5.5.5-10.11.6-MariaDB-0+deb12u1', 'mariadb', MYSQL_CAPS & ~Capability.LONG_PASSWORD],
    ['11.4.2', 'mariadb', MYSQL_CAPS & ~Capability.LONG_PASSWORD],
  ] as const)('%s -> %s', (serverVersion, kind, capabilities) => {
    expect(serverKind({ serverVersion, capabilities })).toBe(kind);
  });
});
