// MovieLens's genres, as its files spell them: ML-100K's u.item has one flag per genre in this
// order (u.genre), ML-1M's movies.dat names them. The data parser reads them, and the page offers
// them as filter chips (the served catalogue has no route listing its genres; a name a catalogue
// lacks is answered with a 400 that names the valid ones).
export const ML100K_GENRES = [
  "unknown",
  "Action",
  "Adventure",
  "Animation",
  "Children's",
  "Comedy",
  "Crime",
  "Documentary",
  "Drama",
  "Fantasy",
  "Film-Noir",
  "Horror",
  "Musical",
  "Mystery",
  "Romance",
  "Sci-Fi",
  "Thriller",
  "War",
  "Western",
] as const;

/** The genres a movie may be filtered by ("unknown" is ML-100K's flag for none). */
export const MOVIELENS_GENRES = ML100K_GENRES.filter((g) => g !== "unknown");
