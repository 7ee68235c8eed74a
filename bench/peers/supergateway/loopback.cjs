// Preloaded into supergateway (node --require) by bench/peers.sh: supergateway
// 4.0.0 calls app.listen(port) with no host, which binds every interface.
// This makes a listen() given only a port (and maybe a callback) bind to
// 127.0.0.1 instead, so the benchmark stays on loopback.
'use strict';
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
