import { PageHeader } from '../../components/ui';

export function CredentialsPage() {
  return <PageHeader title="Credentials" />;
}
