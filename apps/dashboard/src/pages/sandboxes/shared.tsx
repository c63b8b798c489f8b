import { type DragEvent, type ReactNode, useId, useRef, useState } from 'react';
import { apiFetch } from '../../api/client';
import { Button, Dialog, MutationError } from '../../components/ui';

/**
 * `KEY=value` lines (env, metadata) to a record; blank lines and `#` comments are skipped. Throws with the
 * offending line when one has no `=` or an empty key.
 */
export function parsePairs(text: string, what = 'line'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${what} ${index + 1} is not KEY=value: ${line}`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return out;
}

/** A record back to `KEY=value` lines. */
export function formatPairs(record: Record<string, string> | null | undefined): string {
  return Object.entries(record ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');
}

/** Joins a directory and a name into an absolute path. */
export function joinPath(dir: string, name: string): string {
  if (name.startsWith('/')) return name;
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

export function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  return cut <= 0 ? '/' : trimmed.slice(0, cut);
}

/** `/a/b/c` as links to `/`, `/a`, `/a/b` and the current `c`. */
export function Breadcrumb({ path, onOpen, label }: { path: string; onOpen: (path: string) => void; label: string }) {
  const parts = path.split('/').filter(Boolean);
  return (
    <nav aria-label={label} className="breadcrumb">
      <ol>
        <li>
          {parts.length === 0 ? (
            <span aria-current="location">/ (root)</span>
          ) : (
            <button type="button" className="link-button" onClick={() => onOpen('/')}>
              / (root)
            </button>
          )}
        </li>
        {parts.map((part, index) => {
          const to = `/${parts.slice(0, index + 1).join('/')}`;
          const last = index === parts.length - 1;
          return (
            <li key={to}>
              {last ? (
                <span aria-current="location">{part}</span>
              ) : (
                <button type="button" className="link-button" onClick={() => onOpen(to)}>
                  {part}
                </button>
              )}
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

/**
 * Uploads files by drag and drop or a file input, each streamed as the raw body of `urlFor(file)` (a PUT),
 * one after another, with the progress said in a live region.
 */
export function UploadZone({
  urlFor,
  onDone,
  label = 'Upload files',
}: {
  urlFor: (file: File) => string;
  onDone: () => void;
  label?: string;
}) {
  const inputId = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [status, setStatus] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function upload(files: File[]) {
    if (!files.length) return;
    setBusy(true);
    setError(undefined);
    try {
      for (const [index, file] of files.entries()) {
        setStatus(`Uploading ${file.name} (${index + 1} of ${files.length})…`);
        await apiFetch(urlFor(file), {
          method: 'PUT',
          body: file,
          headers: { 'Content-Type': 'application/octet-stream' },
        });
      }
      setStatus(`Uploaded ${files.length === 1 ? files[0]?.name : `${files.length} files`}.`);
      onDone();
    } catch (caught) {
      setStatus('');
      setError(caught);
    } finally {
      setBusy(false);
      if (inputRef.current) inputRef.current.value = '';
    }
  }

  return (
    <section
      className={`dropzone ${over ? 'over' : ''}`}
      aria-label="Upload"
      data-testid="dropzone"
      onDragOver={(event: DragEvent) => {
        event.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(event: DragEvent) => {
        event.preventDefault();
        setOver(false);
        void upload([...event.dataTransfer.files]);
      }}
    >
      <div className="row upload-row">
        <span>Drop files here, or</span>
        <label htmlFor={inputId}>{label}</label>
        <input
          id={inputId}
          ref={inputRef}
          type="file"
          multiple
          disabled={busy}
          onChange={(event) => void upload([...(event.target.files ?? [])])}
        />
      </div>
      <p role="status" className="muted" style={{ margin: status ? '0.5rem 0 0' : 0 }}>
        {status}
      </p>
      <MutationError error={error} />
    </section>
  );
}

/** A confirm dialog: the question, and the dangerous button named by `confirmLabel`. */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onClose,
  busy,
  error,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onClose: () => void;
  busy?: boolean;
  error?: unknown;
}) {
  return (
    <Dialog open={open} onClose={onClose} title={title}>
      <div className="stack">
        <div>{children}</div>
        <MutationError error={error} />
        <div className="form-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="danger" busy={busy} onClick={onConfirm}>
            {confirmLabel}
          </Button>
        </div>
      </div>
    </Dialog>
  );
}

/** Decodes base64 to text (UTF-8) and back. */
export function base64ToText(base64: string): string {
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export function textToBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let index = 0; index < bytes.length; index += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(index, index + 0x8000));
  return btoa(binary);
}

/** Whether decoded bytes look like text (no NUL in the first 8 KiB). */
export function looksBinary(base64: string): boolean {
  const sample = atob(base64.slice(0, 11_000));
  return sample.includes('\u0000');
}
