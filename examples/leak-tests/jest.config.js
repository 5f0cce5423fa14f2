// Plain JavaScript needs no transform; without one, the lines a leak report names are the lines
// of your files (babel-jest's output can shift them).
module.exports = { transform: {}, testMatch: ['**/*.jest.test.js'] };
