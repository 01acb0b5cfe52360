/** The demo page's few DOM helpers: it builds every element itself, and text only ever as textContent. */

export const $ = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} missing from the page`);
  return found as T;
};

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = '',
): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  created.className = className;
  created.textContent = text;
  return created;
}

export function button(label: string, onClick?: (button: HTMLButtonElement) => void): HTMLButtonElement {
  const created = element('button', '', label);
  created.type = 'button';
  if (onClick) created.addEventListener('click', () => onClick(created));
  return created;
}

export function submitOnCtrlEnter(textarea: HTMLTextAreaElement, form: HTMLFormElement): void {
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

/** Runs the form's handler with its submit button, unless that button is busy with an earlier submit. */
export function onSubmit(formId: string, handler: (submit: HTMLButtonElement) => void): void {
  const form = $<HTMLFormElement>(formId);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]');
    if (submit && !submit.disabled) handler(submit);
  });
}

/** Disables the button and says so while the action (and the SDK's retries of it) runs. */
export async function whileBusy(
  target: HTMLButtonElement,
  busyLabel: string,
  action: () => Promise<void>,
): Promise<void> {
  const label = target.textContent;
  target.disabled = true;
  target.textContent = busyLabel;
  try {
    await action();
  } finally {
    target.disabled = false;
    target.textContent = label;
  }
}
