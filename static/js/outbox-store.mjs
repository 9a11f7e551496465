// IndexedDB storage for the outbox, drafts and offline data. Reopens the database when the
// browser drops the connection (Safari does this after the app was in the background).

const DB_NAME = "fieldlog";
const DB_VERSION = 1;
let opening = null;

function open() {
  if (opening) return opening;
  opening = new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains("outbox")) {
        db.createObjectStore("outbox", { keyPath: "id" }).createIndex("user", "user");
      }
      if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv");
    };
    request.onsuccess = () => {
      const db = request.result;
      db.onclose = () => { opening = null; };
      db.onversionchange = () => { db.close(); opening = null; };
      resolve(db);
    };
    request.onerror = () => { opening = null; reject(request.error); };
    request.onblocked = () => { opening = null; reject(new Error("IndexedDB blocked")); };
  });
  return opening;
}

async function run(storeName, mode, work) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    let db;
    try {
      db = await open();
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(storeName, mode);
        const result = work(tx.objectStore(storeName));
        tx.oncomplete = () => resolve(result && "result" in result ? result.result : result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
      });
    } catch (error) {
      // A closed connection: reopen once and try again.
      opening = null;
      if (attempt === 1 || (error && error.name !== "InvalidStateError")) throw error;
    }
  }
  return undefined;
}

export const outbox = {
  put: (entry) => run("outbox", "readwrite", (store) => store.put(entry)),
  remove: (id) => run("outbox", "readwrite", (store) => store.delete(id)),
  get: (id) => run("outbox", "readonly", (store) => store.get(id)),
  all: () => run("outbox", "readonly", (store) => store.getAll()),
  async forUser(user) {
    return (await this.all()).filter((entry) => entry.user === user);
  },
};

export const kv = {
  get: (key) => run("kv", "readonly", (store) => store.get(key)),
  set: (key, value) => run("kv", "readwrite", (store) => store.put(value, key)),
  remove: (key) => run("kv", "readwrite", (store) => store.delete(key)),
};
