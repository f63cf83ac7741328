/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies /api to a Tally on 127.0.0.1:8081 (what scripts/run starts behind nginx),
// stripping the prefix as nginx does.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    sourcemap: false,
    target: 'es2020',
    chunkSizeWarningLimit: 600,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': {
        target: process.env.TALLY_API ?? 'http://127.0.0.1:8081',
        rewrite: (path) => path.replace(/^\/api/, ''),
      },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    setupFiles: ['test/setup.mjs'],
    environment: 'node',
  },
});
