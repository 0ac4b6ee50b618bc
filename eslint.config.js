// Lint runs in `npm test`: type-aware rules catch floating promises and `any` leaking across modules; the demo
// pages' plain browser modules get the recommended JavaScript rules (undeclared names, redeclarations, dead code).
// no-restricted-imports holds the layers apart (README "Architecture"): sfu/ knows no HTTP, signaling/ no
// mediasoup, and the vocabulary and domain layers of src/ neither fastify nor signaling/.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** An import pattern group that names the layer rule it breaks. */
const layer = (...group) => ({ group, message: 'crosses a layer boundary (README "Architecture")' });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web-demo/*.d.ts', 'test/fixtures/*.mjs', 'test/helpers/*.mjs', 'results/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    files: ['sfu/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [layer('fastify', '@fastify/*'), layer('**/signaling/**', '**/src/**')] }] },
  },
  {
    files: ['signaling/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ['mediasoup'], patterns: [layer('mediasoup/*', '**/sfu/*/**')] }] },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ['mediasoup'], patterns: [layer('fastify', '@fastify/*', '**/signaling/**', '**/sfu/**', '../*', '!../core/*')] }] },
  },
  {
    files: ['src/{config,access,streams,media,recording,notify}/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ['mediasoup'], patterns: [layer('fastify', '@fastify/*', '**/signaling/**', '**/http/**')] }] },
  },
  {
    files: ['web-demo/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.browser, sourceType: 'module' },
    rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }] },
  },
);
