/** Posture: the report `tether report --format html` writes, framed from the admin API (sandboxed: no scripts). */
import { h, replace } from './dom.js';

export function postureScreen(main: HTMLElement): void {
  replace(
    main,
    h('h1', {}, 'Posture'),
    h('p', {}, h('a', { href: '/admin/v1/posture?format=html', target: '_blank', rel: 'noopener' }, 'Open the report on its own page')),
    h('iframe', { class: 'report', title: 'Posture report', src: '/admin/v1/posture?format=html', sandbox: '' }),
  );
}
