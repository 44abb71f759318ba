// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const components = ['gateway', 'cdc', 'extracted-services', 'legacy-monolith', 'common'];

/** A pattern that forbids reaching past `component`'s index.ts. */
const deepImportOf = (component) => ({
  regex: `(^|/)${component}/(?!index\\.js$).+`,
  message: `Import ${component}/ only through ${component}/index.js.`,
});

/**
 * Components talk to each other only through their index.ts: a deep import such as
 * `../cdc/replication/stream.js` from outside cdc/ is an error. The CLI is held to the same rule;
 * tests may reach inside the component they test.
 */
const componentBoundaries = [...components, 'cli'].map((self) => ({
  files: [`${self}/**/*.ts`],
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      { patterns: components.filter((c) => c !== self).map(deepImportOf) },
    ],
  },
}));

/**
 * ficus's reference services are written the way a user writes one: from ficus they import only
 * the package entry point (index.ts, what `import … from 'ficus'` gives), which proves it is
 * sufficient. Anything else outside the service's own folder is an error.
 */
const referenceServices = ['catalog', 'reviews', 'notifications'];
const onlyThePackageEntry = (up) => ({
  files: referenceServices.map((name) => `extracted-services/${name}/${'*/'.repeat(up - 2)}*.ts`),
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: `^${'\\.\\./'.repeat(up - 1)}(?!\\.\\./index\\.js$)`,
            message:
              "A service imports ficus only through the package entry point ('../../index.js').",
          },
        ],
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.ficus/**', 'bin/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'error',
    },
  },
  ...componentBoundaries,
  onlyThePackageEntry(2),
  onlyThePackageEntry(3),
  {
    files: ['cli/**/*.ts', 'tests/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // The dashboard page: browser ES modules served as they are, linted without type information.
    files: ['gateway/dashboard/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'fetch',
          'EventSource',
          'Node',
          'ResizeObserver',
          'CSS',
          'setTimeout',
          'clearTimeout',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
