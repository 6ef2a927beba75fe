/** Shared pieces of the screens: notices, and the "action with a reason" form every change uses. */
import { ApiError } from './api.js';
import { h } from './dom.js';

export function toast(message: string, error = false): void {
  const box = document.getElementById('toast');
  if (!box) return;
  const p = h('p', { class: error ? 'error' : undefined }, message);
  box.appendChild(p);
  setTimeout(() => p.remove(), error ? 8000 : 4000);
}

export function failure(e: unknown): void {
  toast(e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e), true);
}

let formSeq = 0;

/**
 * A button that asks for a reason first (every change the console makes is audited with one).
 * `run` gets the reason; on success `done` runs (usually: reload the screen).
 */
export function reasonAction(label: string, run: (reason: string) => Promise<unknown>, done: () => void, o: { danger?: boolean; extra?: (form: HTMLFormElement) => HTMLElement; testid?: string } = {}): HTMLFormElement {
  const id = `reason-${++formSeq}`;
  const input = h('input', { id, name: 'reason', required: true, maxlength: 1024, placeholder: 'reason', 'aria-label': `Reason to ${label.toLowerCase()}` });
  const form = h(
    'form',
    { class: 'inline', 'data-action': o.testid ?? label.toLowerCase() },
    input,
    h('button', { type: 'submit', class: o.danger ? 'danger' : 'primary' }, label),
  );
  if (o.extra) form.insertBefore(o.extra(form), form.lastChild);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const reason = input.value.trim();
    if (!reason) return;
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    run(reason)
      .then(() => {
        toast(`${label}: done`);
        done();
      })
      .catch((err) => {
        failure(err);
        if (button) button.disabled = false;
      });
  });
  return form;
}

export function loading(): HTMLElement {
  return h('p', { class: 'muted' }, 'Loading…');
}
