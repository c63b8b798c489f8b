import { PageHeader } from '../../components/ui';

export function WorkflowsPage() {
  return <PageHeader title="Workflows" />;
}
