// ESLint for the wall page's modules (feed/static/*.js) and their node tests (tests/js/): `make lint`.
// The rules that would have caught the doubled `function whenText` (two declarations of one name in
// one scope, the later silently winning): no-redeclare, no-shadow; and no-unused-vars, no-undef for
// a name one module forgot to import from another.
import js from '@eslint/js';
import globals from 'globals';

const PURE = ['feed/static/words.js', 'feed/static/format.js', 'feed/static/periods.js', 'feed/static/settings.js'];

export default [
  { ignores: ['node_modules/', '.venv/', '.tools/'] },
  js.configs.recommended,
  {
    files: ['feed/static/**/*.js'],
    ignores: PURE,
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.browser } },
  },
  {
    // The pure modules are imported by node's test runner too: no browser (nor node) globals in them.
    files: PURE,
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.es2021, Intl: 'readonly' } },
  },
  {
    files: ['tests/js/**/*.js', 'eslint.config.js'],
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
  },
  {
    files: ['**/*.js'],
    rules: {
      'no-redeclare': ['error', { builtinGlobals: true }],
      'no-shadow': ['error', { hoist: 'functions' }],
      'no-unused-vars': ['error', { args: 'after-used', caughtErrors: 'none' }],
      'no-undef': 'error',
      'no-var': 'error',
      'prefer-const': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
];
