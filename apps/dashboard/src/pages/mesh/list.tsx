import { PageHeader } from '../../components/ui';

export function MeshPage() {
  return <PageHeader title="Mesh" />;
}
