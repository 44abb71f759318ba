/**
 * The route table's history: every version with who, when, why and what changed; automatic
 * rollbacks by the guard stand out; any earlier version can be restored (as a new version).
 */
import { api } from './api.js';
import { formatTime, h, replace } from './dom.js';
import { tableChanges } from './diff.js';

export function createHistoryView({ list, onChanged }) {
  let versions = [];

  async function load() {
    try {
      versions = (await api('GET', '/versions')).versions;
      render();
    } catch (failure) {
      replace(list, h('li', { class: 'error' }, failure.message));
    }
  }

  function render() {
    const current = versions[0]?.version;
    replace(
      list,
      versions.map((version, index) => {
        const previous = versions[index + 1];
        const rollback = version.kind === 'rollback' || version.actor === 'guard';
        const changes = tableChanges(previous?.table, version.table);
        const restoreBox = h('div');
        const restore =
          version.version === current
            ? h('span', { class: 'badge mode-new' }, 'current')
            : h(
                'button',
                {
                  type: 'button',
                  class: 'small secondary',
                  onclick: () => openRestore(version, restoreBox, restore),
                },
                `Restore v${version.version}…`,
              );
        return h(
          'li',
          { class: rollback ? 'rollback' : '', 'data-version': version.version },
          h(
            'article',
            { class: 'card', 'aria-label': `Version ${version.version}` },
            h(
              'div',
              { class: 'version-head' },
              h('strong', {}, `v${version.version}`),
              rollback
                ? h('span', { class: 'badge bad' }, 'automatic rollback')
                : h('span', { class: 'badge quiet' }, version.kind),
              h('span', {}, formatTime(version.at)),
              h('span', {}, `by ${version.actor}`),
              version.restoredFrom
                ? h('span', { class: 'quiet' }, `restored from v${version.restoredFrom}`)
                : null,
              restore,
            ),
            h('p', { class: rollback ? 'bad' : '' }, version.reason),
            h(
              'ul',
              { class: 'changes' },
              changes.map((change) => h('li', {}, change)),
            ),
            restoreBox,
          ),
        );
      }),
    );
  }

  function openRestore(version, box, opener) {
    const input = h('input', {
      type: 'text',
      id: `restore-reason-${version.version}`,
      required: true,
      maxlength: '1000',
    });
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h(
      'form',
      { class: 'restore-form' },
      h('div', {}, h('label', { for: input.id }, `Why restore v${version.version}?`), input),
      h('button', { type: 'submit' }, 'Restore'),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          onclick: () => {
            replace(box);
            opener.focus();
          },
        },
        'Cancel',
      ),
      error,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void (async () => {
        try {
          const created = await api('POST', `/versions/${version.version}/restore`, {
            reason: input.value,
          });
          onChanged(created);
        } catch (failure) {
          error.textContent = failure.message;
        }
      })();
    });
    replace(box, form);
    input.focus();
  }

  return { load };
}
