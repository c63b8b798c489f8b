import { useCan } from '../../api/session';
import { useTabParam } from '../../components/tab-param';
import { PageHeader, TabPanel, Tabs } from '../../components/ui';
import { ApiKeys } from './keys';
import { OAuthApps } from './oauth-apps';
import { Secrets } from './secrets';
import { Sessions } from './sessions';
import { SshKeys } from './ssh-keys';

type TabId = 'keys' | 'secrets' | 'ssh-keys' | 'oauth-apps' | 'sessions';

/** Credentials: API keys, secrets, SSH keys, OAuth apps, and the member's dashboard sessions. */
export function CredentialsPage() {
  const canKeys = useCan('keys:read', 'keys:write');
  const canSecrets = useCan('secrets:read', 'secrets:write');
  const canSsh = useCan('ssh_keys:read', 'ssh_keys:write');
  const canOauth = useCan('connections:read', 'connections:write');
  const tabs: { id: TabId; label: string }[] = [
    ...(canKeys ? [{ id: 'keys' as const, label: 'API keys' }] : []),
    ...(canSecrets ? [{ id: 'secrets' as const, label: 'Secrets' }] : []),
    ...(canSsh ? [{ id: 'ssh-keys' as const, label: 'SSH keys' }] : []),
    ...(canOauth ? [{ id: 'oauth-apps' as const, label: 'OAuth apps' }] : []),
    { id: 'sessions', label: 'Sessions' },
  ];
  const [tab, setTab] = useTabParam(tabs, 'sessions');
  return (
    <>
      <PageHeader
        title="Credentials"
        description="API keys, secrets your sandboxes and tools use, SSH keys, OAuth apps, and where you are signed in."
      />
      <Tabs tabs={tabs} current={tab} onChange={setTab} label="Credential kinds" />
      <TabPanel id={tab}>
        {tab === 'keys' ? <ApiKeys /> : null}
        {tab === 'secrets' ? <Secrets /> : null}
        {tab === 'ssh-keys' ? <SshKeys /> : null}
        {tab === 'oauth-apps' ? <OAuthApps /> : null}
        {tab === 'sessions' ? <Sessions /> : null}
      </TabPanel>
    </>
  );
}
