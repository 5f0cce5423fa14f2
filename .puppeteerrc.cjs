// puppeteer comes in only as a dependency of memlab (a dev-only cross-check): it must not try
// to download a browser during `npm install` (the HTML test uses Debian's chromium instead).
module.exports = { skipDownload: true };
