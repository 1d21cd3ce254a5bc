// @ts-check
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Modules the pure core must not reach: it decides, the shell does I/O. */
const ioModules = [
  '@kubernetes/client-node',
  '@dot-i/k8s-operator',
  'prom-client',
  'winston',
  'jose',
  'node:*',
  'fs',
  'crypto',
  'http',
  'https',
];

export default defineConfig(
  { ignores: ['node_modules', 'dist', 'coverage', '.cluster', 'charts'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
      // client-node's models are classes, but the library takes (and documents) plain object literals.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      // Secret data and annotations are records keyed by name; deleting a key by name is the point.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // Same cause: spreading a model copies its data, which is all a model has.
      '@typescript-eslint/no-misused-spread': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/adapters/operator/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@dot-i/k8s-operator', message: 'Only src/adapters/operator may import the framework.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/rotation/**/*.ts', 'src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ioModules, message: 'The pure core does no I/O: pass what it needs in.' }] },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use the injected clock (input.now).' },
        {
          object: 'Math',
          property: 'random',
          message: 'The core makes no randomness: keys come from the executor.',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Use the injected clock.',
        },
        {
          selector: "CallExpression[callee.name='setTimeout']",
          message: 'The core does not schedule: return requeueAfter.',
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'tools/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  prettier,
);
