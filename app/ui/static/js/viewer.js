// Who is using the app (the API's `viewer`) and which pages that role may see.
export const VIEWER = '{ viewer { role subject refereeId referee { id name } } }';

export const isAdmin = (viewer) => viewer.role === 'ADMIN';
