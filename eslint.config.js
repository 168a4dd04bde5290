// ESLint, type-aware: `npm run lint` (and `npm test`, which runs it after the build).
// Formatting is Prettier's job (`npm run format`); neither config below holds a
// formatting rule, so no eslint-config-prettier is needed.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';
import { existsSync } from 'node:fs';

// The examples and the type tests import 'mysql-leader' by name, which resolves to dist/ (as for a user):
// without a build their types are unknown and every use of the library reads as an unsafe `any`.
if (!existsSync(`${import.meta.dirname}/dist/index.d.ts`)) {
  throw new Error('eslint: run `npm run build` first (examples/ and test/types/ lint against the built types in dist/)');
}

export default defineConfig(
  // Build output and generated or recorded files; node_modules is ignored by default.
  globalIgnores(['dist/', 'docs/api/', 'bench/out/', 'chaos-out/', '.tmp/']),
  {
    // A `// eslint-disable` that no longer disables anything fails the lint, so none outlives its reason.
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Types from the tsconfig.json that covers each file (src, test, bench, chaos, examples).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // The rules that catch real defects are already errors in recommended-type-checked:
      // no-floating-promises, no-misused-promises, await-thenable, only-throw-error, ...
      // Below, only what differs from it.

      // node:test's describe() and it() return promises that the runner itself awaits; ignoring them is
      // the documented way to write a test file. Every other promise still has to be handled.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],

      // An AbortSignal's reason (`any`) and a caught error (`unknown`) are passed on as they are: the house rule is
      // "reject with signal.reason". A rejection with a value known not to be an Error (a string) still fails.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // Off: `async` on a function without `await` is deliberate here (a throw becomes a rejection; a method
      // implements a Promise-returning interface). Promises that are forgotten are no-floating-promises' job.
      '@typescript-eslint/require-await': 'off',
      // A leading underscore marks a parameter or binding kept on purpose, as tsc's noUnusedParameters allows.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // verbatimModuleSyntax keeps every import that lacks `type`, so a name used only as a type is imported
      // with `type`. Both forms the code uses pass; `--fix` writes the inline one (`import { type A, b }`).
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      // `import { type A } from 'm'` still loads 'm' under verbatimModuleSyntax: write `import type { A }`.
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // `==` coerces; the code compares with `===` everywhere, `null` and `undefined` included.
      eqeqeq: ['error', 'always'],
      // A promise returned from inside try/catch/finally without `await` escapes the catch and the finally.
      '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
      // A switch over a union names every member (the house writes `satisfies never` in its default).
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // The library never prints: it logs through the `logger` option. Turned off below where printing is the job.
      'no-console': 'error',
    },
  },
  {
    // The command line, the benchmarks, the chaos runs, the examples and the tests print on purpose.
    files: ['src/cli/**', 'bench/**', 'chaos/**', 'examples/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Type tests: checked by tsc, never run. Values exist to be looked at with `typeof`, and the lines under
    // `@ts-expect-error` are wrong on purpose, so their types are errors, which read as `any`.
    files: ['test/types/**'],
    rules: {
      '@typescript-eslint/no-unused-vars': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript (this file) is outside tsconfig.json: lint it without types.
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
